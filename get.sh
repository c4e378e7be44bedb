#!/bin/sh
# shellcheck disable=SC2016 # messages show $PATH-style text literally
# Install jit from a release, no Rust needed: download this machine's archive and the release's
# SHA256SUMS, refuse the archive unless it matches, then run the install.sh it carries (jit and
# jit-portal to PREFIX/bin, completions, the hook lines). Nothing is written under PREFIX or
# HOME before the archive is verified. Linux and macOS, amd64 and arm64.
#
#   curl -fsSL https://github.com/OWNER/NAME/releases/latest/download/get.sh | sh
#   sh get.sh [--add-hook] [--prefix DIR] [--shell bash|zsh|fish] [--version X.Y.Z] [--base-url URL]
#
# --add-hook also adds the hook lines to your shell's startup files; --prefix installs under
# DIR/bin (default ~/.local); --version picks a release (default: the one this get.sh came with);
# --base-url is where the release's files are (default: the GitHub release; https, or http on
# loopback only).
set -eu

# Set by scripts/release.sh in the get.sh it publishes with a release.
default_repo=""
default_version=""

die() {
    printf 'get.sh: %s\n' "$1" >&2
    exit 1
}

usage() {
    cat <<'EOF'
Install jit from a release archive, checked against the release's SHA256SUMS.

  sh get.sh [--add-hook] [--prefix DIR] [--shell bash|zsh|fish] [--version X.Y.Z] [--base-url URL]

  --add-hook        also add the hook lines to your shell's startup files (once)
  --prefix DIR      install under DIR/bin (default ~/.local)
  --shell NAME      shell to set up: bash, zsh or fish (default: from $SHELL)
  --version X.Y.Z   the release to install (default: the one this get.sh came with)
  --base-url URL    where the release's files are (default: its GitHub release)
EOF
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -d' ' -f1
    elif command -v shasum >/dev/null 2>&1; then
        shasum -a 256 "$1" | cut -d' ' -f1
    elif command -v openssl >/dev/null 2>&1; then
        openssl dgst -sha256 -r "$1" | cut -d' ' -f1
    else
        die "no sha256sum, shasum or openssl to check the download with"
    fi
}

# download URL FILE
# One line on failure, with curl's reason.
download() {
    if command -v curl >/dev/null 2>&1; then
        proto=all
        case "$1" in https://*) proto='=https' ;; *) ;; esac
        if ! why=$(curl -fsSL --proto "${proto}" --retry 2 -o "$2" "$1" 2>&1); then
            why=$(printf '%s' "${why}" | tr '\n' ' ' || true)
            die "could not download $1: ${why#curl: }"
        fi
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1" || die "could not download $1"
    else
        die "neither curl nor wget found"
    fi
}

main() {
    repo=${default_repo}
    version=${default_version}
    base_url=""
    install_args=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --version) [ $# -ge 2 ] || die "--version needs a value"; version=${2#v}; shift 2 ;;
            --base-url) [ $# -ge 2 ] || die "--base-url needs a URL"; base_url=${2%/}; shift 2 ;;
            --prefix | --shell)
                [ $# -ge 2 ] || die "$1 needs a value"
                case "$2" in
                    *[\"\$\`\\]* | *"'"*) die "$1: \", ', \$, \` and \\ are not supported" ;;
                    *) ;;
                esac
                install_args="${install_args} $1 '$2'"
                shift 2
                ;;
            --add-hook) install_args="${install_args} --add-hook"; shift ;;
            -h | --help) usage; exit 0 ;;
            *) die "unknown option $1 (see --help)" ;;
        esac
    done

    [ -n "${version}" ] || die "which release? pass --version X.Y.Z (this get.sh did not come with one)"
    case "${version}" in
        *[!0-9A-Za-z.+-]*) die "'${version}' is not a version" ;;
        *) ;;
    esac
    if [ -z "${base_url}" ]; then
        [ -n "${repo}" ] || die "where from? pass --base-url URL (this get.sh did not come with a release)"
        base_url="https://github.com/${repo}/releases/download/v${version}"
    fi
    # The checksums come from the same place as the archive: only TLS keeps them honest.
    case "${base_url}" in
        https://*) ;;
        http://127.0.0.1[:/]* | http://localhost[:/]* | http://\[::1\][:/]*) ;;
        *) die "--base-url must be https:// (or http:// on loopback): ${base_url}" ;;
    esac

    system=$(uname -s)
    machine=$(uname -m)
    case "${system}" in
        Linux) os=linux ;;
        Darwin) os=darwin ;;
        *) die "no release archive for ${system}: on Windows use Scoop or the zip; elsewhere install.sh builds from source (needs Rust)" ;;
    esac
    case "${machine}" in
        x86_64 | amd64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) die "no release archive for ${machine}: install.sh builds from source (needs Rust)" ;;
    esac
    # A shell under Rosetta says x86_64 on Apple silicon; the native build is the one to have.
    if [ "${os}/${arch}" = darwin/amd64 ] && [ "$(sysctl -n sysctl.proc_translated 2>/dev/null || true)" = 1 ]; then
        arch=arm64
    fi

    archive="jit_${version}_${os}_${arch}.zip"
    sums="jit_${version}_SHA256SUMS"
    tmp=$(mktemp -d 2>/dev/null || mktemp -d -t jit-get)
    trap 'rm -rf "${tmp}"' EXIT
    trap 'exit 130' INT TERM

    printf 'downloading %s\n' "${base_url}/${archive}"
    download "${base_url}/${sums}" "${tmp}/${sums}"
    download "${base_url}/${archive}" "${tmp}/${archive}"
    want=$(awk -v f="${archive}" '$2 == f || $2 == "*" f { print $1; exit }' "${tmp}/${sums}")
    case "${want}" in
        "") die "${sums} has no line for ${archive}: refusing to install" ;;
        *[!0-9a-f]*) die "${sums} has a malformed line for ${archive}: refusing to install" ;;
        *) ;;
    esac
    [ "${#want}" = 64 ] || die "${sums} has a malformed line for ${archive}: refusing to install"
    have=$(sha256_of "${tmp}/${archive}")
    [ "${have}" = "${want}" ] ||
        die "${archive} does not match ${sums} (sha256 ${have}, expected ${want}): corrupted or tampered with, refusing to install; nothing was installed"
    printf 'verified %s against %s\n' "${archive}" "${sums}"

    mkdir "${tmp}/jit"
    if command -v unzip >/dev/null 2>&1; then
        unzip -q "${tmp}/${archive}" -d "${tmp}/jit" || die "could not unpack ${archive}"
    elif command -v python3 >/dev/null 2>&1; then
        # Python's zipfile drops the executable bits: the three programs get them back below.
        python3 -m zipfile -e "${tmp}/${archive}" "${tmp}/jit" || die "could not unpack ${archive}"
        chmod 755 "${tmp}/jit/jit" "${tmp}/jit/install.sh"
        if [ -f "${tmp}/jit/jit-portal" ]; then chmod 755 "${tmp}/jit/jit-portal"; fi
    else
        die "neither unzip nor python3 found to unpack ${archive}"
    fi
    "${tmp}/jit/jit" version >/dev/null 2>&1 || die "the downloaded jit does not run on this machine (${os}/${arch})"

    # install.sh from the archive itself: the same steps as from a checkout, with the verified
    # binaries. Options were checked above to hold no quote, so eval splits them back safely.
    eval "set -- ${install_args}"
    JIT_INSTALL_AGAIN="get.sh" sh "${tmp}/jit/install.sh" --bin "${tmp}/jit/jit" "$@"
}

# Everything runs from here, so a download of this script cut short runs nothing.
main "$@"
