#!/usr/bin/env bash
# Build and package a jit release, as .github/workflows/release.yml does on a tag, or by hand.
#
#   scripts/release.sh package [--os OS --arch ARCH] [--prebuilt DIR] [--cross] [--tag vX.Y.Z] [--out DIR]
#       build jit (and jit-portal, not on windows) for one platform with cargo (or cross) and
#       write DIR/jit_<version>_<os>_<arch>.zip: the binaries, install.sh, shell/, completions/,
#       README.md and LICENSE. --prebuilt DIR packages binaries already built there instead.
#       OS: linux, darwin, windows; ARCH: amd64, arm64; default: this machine.
#   scripts/release.sh sums [--repo OWNER/NAME] [--base-url URL] [--tag vX.Y.Z] [--out DIR]
#       over every jit_<version>_*.zip in DIR: write jit_<version>_SHA256SUMS, get.sh (its
#       defaults set to this release), the Homebrew formula jit.rb (when the four darwin and
#       linux archives are there) and the Scoop manifest jit.json (when the windows one is).
#
# The version is Cargo.toml's; --tag refuses to go on when the tag says otherwise. DIR defaults
# to dist/. The commit `jit version` names is this checkout's HEAD (JIT_COMMIT, for build.rs).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)

die() {
  printf 'release.sh: %s\n' "$1" >&2
  exit 1
}

usage() {
  sed -n '3,17s/^# \{0,1\}//p' "$0"
}

# The version in the root Cargo.toml's [package] table.
cargo_version() {
  sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' "${here}/Cargo.toml" | head -n 1
}

sha256_of() {
  if command -v sha256sum >/dev/null; then
    sha256sum "$1" | cut -d' ' -f1
  else
    shasum -a 256 "$1" | cut -d' ' -f1
  fi
}

host_os() {
  local system
  system=$(uname -s)
  case "${system}" in
    Linux) echo linux ;;
    Darwin) echo darwin ;;
    MINGW* | MSYS* | CYGWIN* | Windows_NT) echo windows ;;
    *) die "unknown system ${system}: pass --os" ;;
  esac
}

host_arch() {
  local machine
  machine=$(uname -m)
  case "${machine}" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) die "unknown machine ${machine}: pass --arch" ;;
  esac
}

rust_target() {
  case "$1/$2" in
    linux/amd64) echo x86_64-unknown-linux-gnu ;;
    linux/arm64) echo aarch64-unknown-linux-gnu ;;
    darwin/amd64) echo x86_64-apple-darwin ;;
    darwin/arm64) echo aarch64-apple-darwin ;;
    windows/amd64) echo x86_64-pc-windows-msvc ;;
    *) die "no release for $1/$2 (linux, darwin: amd64, arm64; windows: amd64)" ;;
  esac
}

cmd=${1:-}
[[ $# -gt 0 ]] && shift
case "${cmd}" in
  package | sums) ;;
  -h | --help | help)
    usage
    exit 0
    ;;
  *) die "package or sums (see --help)" ;;
esac

os=""
arch=""
prebuilt=""
builder=cargo
tag=""
out="${here}/dist"
repo="${GITHUB_REPOSITORY:-}"
base_url=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --os | --arch | --prebuilt | --tag | --out | --repo | --base-url)
      [[ $# -ge 2 ]] || die "$1 needs a value"
      case "$1" in
        --os) os=$2 ;;
        --arch) arch=$2 ;;
        --prebuilt) prebuilt=$2 ;;
        --tag) tag=$2 ;;
        --out) out=$2 ;;
        --repo) repo=$2 ;;
        *) base_url=$2 ;;
      esac
      shift 2
      ;;
    --cross)
      builder=cross
      shift
      ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

version=$(cargo_version)
[[ "${version}" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] ||
  die "no version in Cargo.toml's [package] table"
if [[ -n "${tag}" && "${tag}" != "v${version}" ]]; then
  die "tag ${tag} does not match Cargo.toml's version ${version}: bump Cargo.toml or fix the tag"
fi
mkdir -p "${out}"
out=$(cd "${out}" && pwd)

package() {
  os=${os:-$(host_os)}
  arch=${arch:-$(host_arch)}
  local target exe="" name stage bindir
  target=$(rust_target "${os}" "${arch}")
  # The portal keeps its files with unix permissions and descriptors: it is not built for
  # Windows, where jit alone ships.
  local bins=(jit jit-portal)
  if [[ "${os}" = windows ]]; then
    exe=.exe
    bins=(jit)
  fi

  if [[ -n "${prebuilt}" ]]; then
    bindir=${prebuilt}
  else
    local packages=()
    for b in "${bins[@]}"; do packages+=(-p "${b}"); done
    # The portal's passkeys verify with OpenSSL: linked statically, so the archive runs whatever
    # libssl (if any) the host has.
    [[ " ${bins[*]} " = *" jit-portal "* ]] && packages+=(--features jit-portal/vendored-openssl)
    JIT_COMMIT=${JIT_COMMIT:-$(git -C "${here}" rev-parse --short=12 HEAD)}
    export JIT_COMMIT
    printf 'release.sh: building %s for %s (commit %s)\n' "${bins[*]}" "${target}" "${JIT_COMMIT}"
    (cd "${here}" && "${builder}" build --release --locked --target "${target}" "${packages[@]}")
    bindir="${here}/target/${target}/release"
  fi
  for b in "${bins[@]}"; do
    [[ -f "${bindir}/${b}${exe}" ]] || die "${bindir}/${b}${exe} is missing"
  done
  # A binary for this machine must run and say this version: a stale build would not.
  local host_o host_a
  host_o=$(host_os)
  host_a=$(host_arch)
  if [[ "${os}/${arch}" = "${host_o}/${host_a}" ]]; then
    local says
    says=$("${bindir}/jit${exe}" version) || die "${bindir}/jit${exe} does not run"
    [[ "${says}" = "jit version ${version} ("* ]] ||
      die "${bindir}/jit${exe} says '${says}', not version ${version}"
  fi

  name="jit_${version}_${os}_${arch}"
  stage=$(mktemp -d)
  # shellcheck disable=SC2064 # the directory is known now, and must go on any exit
  trap "rm -rf '${stage}'" EXIT
  for b in "${bins[@]}"; do
    cp "${bindir}/${b}${exe}" "${stage}/${b}${exe}"
    chmod 755 "${stage}/${b}${exe}"
  done
  mkdir "${stage}/shell" "${stage}/completions"
  cp "${here}"/shell/jit.* "${stage}/shell/"
  cp "${here}"/completions/jit.* "${stage}/completions/"
  cp "${here}/README.md" "${here}/LICENSE" "${stage}/"
  if [[ "${os}" != windows ]]; then
    cp "${here}/install.sh" "${stage}/install.sh"
    chmod 755 "${stage}/install.sh"
  fi

  local files
  files=$(cd "${stage}" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
  rm -f "${out}/${name}.zip.tmp"
  if command -v zip >/dev/null; then
    # shellcheck disable=SC2086 # one file name per line, none with spaces
    (cd "${stage}" && zip -q -X "${out}/${name}.zip.tmp" ${files})
  elif command -v 7z >/dev/null; then
    # shellcheck disable=SC2086
    (cd "${stage}" && 7z a -tzip -bd "${out}/${name}.zip.tmp" ${files} >/dev/null)
  else
    die "neither zip nor 7z found"
  fi
  mv "${out}/${name}.zip.tmp" "${out}/${name}.zip"
  printf 'release.sh: wrote %s\n' "${out}/${name}.zip"
}

# render TEMPLATE OUTPUT KEY=VALUE...: replace each @KEY@; refuse to leave one unreplaced.
render() {
  local template=$1 output=$2 text
  shift 2
  text=$(<"${template}")
  local pair key value
  for pair in "$@"; do
    key=${pair%%=*}
    value=${pair#*=}
    text=${text//"@${key}@"/"${value}"}
  done
  if [[ "${text}" =~ @[A-Za-z0-9_]+@ ]]; then
    die "${template}: ${BASH_REMATCH[0]} left unreplaced"
  fi
  printf '%s\n' "${text}" >"${output}.tmp"
  mv "${output}.tmp" "${output}"
  printf 'release.sh: wrote %s\n' "${output}"
}

sums() {
  local sums_name="jit_${version}_SHA256SUMS" archives=() f
  shopt -s nullglob
  for f in "${out}/jit_${version}_"*.zip; do archives+=("$(basename "${f}")"); done
  shopt -u nullglob
  [[ ${#archives[@]} -gt 0 ]] || die "no jit_${version}_*.zip in ${out}: run release.sh package first"
  : >"${out}/${sums_name}.tmp"
  local hash
  for f in "${archives[@]}"; do
    hash=$(sha256_of "${out}/${f}")
    printf '%s  %s\n' "${hash}" "${f}" >>"${out}/${sums_name}.tmp"
  done
  mv "${out}/${sums_name}.tmp" "${out}/${sums_name}"
  printf 'release.sh: wrote %s\n' "${out}/${sums_name}"

  [[ "${repo}" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] ||
    die "--repo OWNER/NAME (or GITHUB_REPOSITORY) is needed for the download URLs"
  base_url=${base_url:-https://github.com/${repo}/releases/download/v${version}}
  local vars=(VERSION="${version}" REPO="${repo}" HOMEPAGE="https://github.com/${repo}")
  local platform missing=""
  for platform in darwin_amd64 darwin_arm64 linux_amd64 linux_arm64 windows_amd64; do
    f="${out}/jit_${version}_${platform}.zip"
    if [[ -f "${f}" ]]; then
      vars+=("URL_${platform}=${base_url}/jit_${version}_${platform}.zip")
      vars+=("SHA256_${platform}=$(sha256_of "${f}")")
    elif [[ "${platform}" != windows_amd64 ]]; then
      missing+=" ${platform}"
    fi
  done

  # get.sh, its defaults pointing at this release: what `curl ... | sh` runs.
  sed -e "s|^default_repo=\"\"$|default_repo=\"${repo}\"|" \
    -e "s|^default_version=\"\"$|default_version=\"${version}\"|" \
    "${here}/get.sh" >"${out}/get.sh.tmp"
  grep -qx "default_version=\"${version}\"" "${out}/get.sh.tmp" || die "get.sh: no default_version line"
  chmod 755 "${out}/get.sh.tmp"
  mv "${out}/get.sh.tmp" "${out}/get.sh"
  printf 'release.sh: wrote %s\n' "${out}/get.sh"

  if [[ -z "${missing}" ]]; then
    render "${here}/packaging/homebrew/jit.rb.tmpl" "${out}/jit.rb" "${vars[@]}"
  else
    printf 'release.sh: no Homebrew formula: no archive for%s\n' "${missing}"
  fi
  if [[ -f "${out}/jit_${version}_windows_amd64.zip" ]]; then
    render "${here}/packaging/scoop/jit.json.tmpl" "${out}/jit.json" "${vars[@]}"
  else
    printf 'release.sh: no Scoop manifest: no archive for windows_amd64\n'
  fi
}

"${cmd}"
