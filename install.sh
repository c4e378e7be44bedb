#!/bin/sh
# shellcheck disable=SC2016 # rc lines are written literally, for the shell to expand
# Install jit from this checkout: the binaries (jit, and jit-portal for `jit portal`), shell
# completions, and the shell hook line.
#
#   ./install.sh                      build with cargo, install to ~/.local/bin, print the lines to add
#   ./install.sh --add-hook           ... and add them to your shell's startup files (once)
#   ./install.sh --bin PATH           install an already built jit (and jit-portal beside it) instead of building
#   ./install.sh --prefix DIR         install under DIR/bin (default ~/.local)
#   ./install.sh --shell bash|zsh|fish   shell to set up (default: from $SHELL)
set -eu

prefix="${HOME}/.local"
bin=""
shell_name=$(basename "${SHELL:-sh}")
add_hook=0

die() {
    printf 'install.sh: %s\n' "$1" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
        --bin) [ $# -ge 2 ] || die "--bin needs a path"; bin=$2; shift 2 ;;
        --shell) [ $# -ge 2 ] || die "--shell needs a name"; shell_name=$2; shift 2 ;;
        --add-hook) add_hook=1; shift ;;
        -h | --help) sed -n '3,11s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
case "${shell_name}" in
    bash | zsh | fish) ;;
    *) die "unsupported shell '${shell_name}' (bash, zsh or fish; PowerShell: see docs/install.md)" ;;
esac

here=$(cd "$(dirname "$0")" && pwd)
bindir="${prefix}/bin"
# Directories go into rc lines inside double quotes, so they must not hold what those expand.
case "${bindir}${XDG_DATA_HOME:-}" in
    *[\"\$\`\\]*) die "directories with \", \$, \` or \\ in their names are not supported" ;;
    *) ;;
esac

mkdir -p "${bindir}"
if [ -n "${bin}" ]; then
    [ -x "${bin}" ] || die "${bin} is not an executable"
    cp "${bin}" "${bindir}/jit.tmp.$$"
    mv "${bindir}/jit.tmp.$$" "${bindir}/jit"
    portal="$(dirname "${bin}")/jit-portal"
    if [ -x "${portal}" ]; then
        cp "${portal}" "${bindir}/jit-portal.tmp.$$"
        mv "${bindir}/jit-portal.tmp.$$" "${bindir}/jit-portal"
    fi
else
    command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs or pass --bin"
    printf 'building jit and jit-portal with cargo (a few minutes the first time; progress below)\n'
    # cargo shows each crate it compiles on stderr.
    cargo install --locked --path "${here}" --root "${prefix}"
    cargo install --locked --path "${here}/portal" --root "${prefix}"
fi
jit="${bindir}/jit"
"${jit}" version >/dev/null || die "the installed ${jit} does not run"
printf 'installed %s\n' "${jit}"

# A directory as written in an rc file: under $HOME, as $HOME/..., the way a person writes it.
rc_path() {
    case "$1" in
        "${HOME}"/*) printf '$HOME%s' "${1#"${HOME}"}" ;;
        *) printf '%s' "$1" ;;
    esac
}

data="${XDG_DATA_HOME:-${HOME}/.local/share}"
config="${XDG_CONFIG_HOME:-${HOME}/.config}"
extra_rc=""
extra_line=""
case "${shell_name}" in
    bash)
        # bash-completion 2 loads completions on first use from this user directory.
        completions="${BASH_COMPLETION_USER_DIR:-${data}/bash-completion}/completions/jit"
        rc="${HOME}/.bashrc"
        hook='eval "$(jit init bash)"'
        ;;
    zsh)
        # A directory on zsh's default $fpath needs nothing more; otherwise $fpath must name ours
        # before compinit runs, and ~/.zshenv is read before any zshrc (some systems run compinit
        # in /etc/zsh/zshrc).
        site="${prefix}/share/zsh/site-functions"
        if command -v zsh >/dev/null 2>&1 && zsh -fc 'print -rl -- $fpath' | grep -qxF "${site}"; then
            completions="${site}/_jit"
        else
            completions="${data}/zsh/site-functions/_jit"
            extra_rc="${ZDOTDIR:-${HOME}}/.zshenv"
            dir=$(rc_path "${data}/zsh/site-functions")
            extra_line="fpath=(\"${dir}\" \$fpath)"
        fi
        rc="${ZDOTDIR:-${HOME}}/.zshrc"
        hook='eval "$(jit init zsh)"'
        ;;
    fish)
        completions="${config}/fish/completions/jit.fish"
        rc="${config}/fish/config.fish"
        hook='jit init fish | source'
        ;;
    *) die "unsupported shell '${shell_name}'" ;;
esac

mkdir -p "$(dirname "${completions}")"
"${jit}" completions "${shell_name}" >"${completions}"
printf 'installed completions to %s\n' "${completions}"
if [ "${shell_name}" = bash ]; then
    found=0
    for f in /usr/share/bash-completion/bash_completion /usr/local/share/bash-completion/bash_completion \
        /opt/homebrew/etc/profile.d/bash_completion.sh /usr/local/etc/profile.d/bash_completion.sh; do
        if [ -f "${f}" ]; then found=1; fi
    done
    if [ "${found}" = 0 ]; then
        printf 'note: bash loads these completions through bash-completion, which is not installed here
'
    fi
fi

path_line=""
case ":${PATH}:" in
    *":${bindir}:"*) ;;
    *)
        dir=$(rc_path "${bindir}")
        if [ "${shell_name}" = fish ]; then
            path_line="fish_add_path \"${dir}\""
        else
            path_line="export PATH=\"${dir}:\$PATH\""
        fi
        printf '%s is not on your PATH, so `jit` will not be found.\n' "${bindir}"
        ;;
esac

# add_line FILE LINE: append LINE to FILE unless it is there already.
add_line() {
    mkdir -p "$(dirname "$1")"
    if [ -f "$1" ] && grep -qxF "$2" "$1"; then
        printf 'already in %s: %s\n' "$1" "$2"
    else
        printf '\n%s\n' "$2" >>"$1"
        printf 'added to %s: %s\n' "$1" "$2"
    fi
}

if [ "${add_hook}" = 1 ]; then
    if [ -n "${extra_line}" ]; then add_line "${extra_rc}" "${extra_line}"; fi
    if [ -n "${path_line}" ]; then add_line "${rc}" "${path_line}"; fi
    add_line "${rc}" "${hook}"
    printf 'open a new shell to use jit\n'
else
    if [ -n "${extra_line}" ]; then
        printf 'add this line to %s (or to %s before compinit), for completions:\n  %s\n' \
            "${extra_rc}" "${rc}" "${extra_line}"
    fi
    if [ -n "${path_line}" ]; then
        printf 'add this line to %s, to fix PATH:\n  %s\n' "${rc}" "${path_line}"
    fi
    printf 'add this line to %s, for jitnow, jitoff and the prompt:\n  %s\n' "${rc}" "${hook}"
    # get.sh runs the install.sh its archive carries, and names itself here.
    printf '(or run %s --add-hook to add them)\n' "${JIT_INSTALL_AGAIN:-./install.sh}"
fi
