#!/bin/sh
# shellcheck disable=SC2016 # hook lines are written literally, for the rc file to expand
# Install jit from this checkout: the binaries (jit, and jit-portal for `jit portal`), shell
# completions, and the shell hook line.
#
#   ./install.sh                      build with cargo, install to ~/.local/bin, print the hook line
#   ./install.sh --add-hook           ... and append the hook line to your shell's rc file (once)
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

here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$prefix/bin"
if [ -n "$bin" ]; then
    [ -x "$bin" ] || die "$bin is not an executable"
    cp "$bin" "$prefix/bin/jit.tmp.$$"
    mv "$prefix/bin/jit.tmp.$$" "$prefix/bin/jit"
    portal="$(dirname "$bin")/jit-portal"
    if [ -x "$portal" ]; then
        cp "$portal" "$prefix/bin/jit-portal.tmp.$$"
        mv "$prefix/bin/jit-portal.tmp.$$" "$prefix/bin/jit-portal"
    fi
else
    command -v cargo >/dev/null || die "cargo not found: install Rust from https://rustup.rs or pass --bin"
    cargo install --quiet --locked --path "$here" --root "$prefix"
    cargo install --quiet --locked --path "$here/portal" --root "$prefix"
fi
jit="$prefix/bin/jit"
"$jit" version >/dev/null || die "the installed $jit does not run"

data="${XDG_DATA_HOME:-$HOME/.local/share}"
config="${XDG_CONFIG_HOME:-$HOME/.config}"
case "$shell_name" in
    bash)
        completions="$data/bash-completion/completions/jit"
        rc="$HOME/.bashrc"
        hook='eval "$(jit init bash)"'
        ;;
    zsh)
        completions="$data/zsh/site-functions/_jit"
        rc="${ZDOTDIR:-$HOME}/.zshrc"
        hook='eval "$(jit init zsh)"'
        ;;
    fish)
        completions="$config/fish/completions/jit.fish"
        rc="$config/fish/config.fish"
        hook='jit init fish | source'
        ;;
    *) die "unsupported shell '$shell_name' (bash, zsh or fish; PowerShell: see the README)" ;;
esac

mkdir -p "$(dirname "$completions")"
"$jit" completions "$shell_name" >"$completions"
printf 'installed %s\ninstalled completions to %s\n' "$jit" "$completions"

case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) printf 'note: %s is not on your PATH\n' "$prefix/bin" ;;
esac

if [ "$add_hook" = 1 ]; then
    mkdir -p "$(dirname "$rc")"
    if [ -f "$rc" ] && grep -qxF "$hook" "$rc"; then
        printf 'the hook is already in %s\n' "$rc"
    else
        printf '\n%s\n' "$hook" >>"$rc"
        printf 'added the hook to %s\n' "$rc"
    fi
else
    printf 'add this line to %s:\n  %s\n' "$rc" "$hook"
fi
