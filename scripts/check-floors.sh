#!/usr/bin/env bash
# The floor check of hrsync-core (core/src/lib.rs "Layout"): fails, saying what it found,
# when
#   1. core/ depends on or uses ractor (core must stay ractor-free);
#   2. a module of core imports (`crate::X…`) a module on a higher floor than its own
#      (the floors are listed in core/FLOORS, ground first); or
#   3. core's modules import each other in a circle.
# Modules are files: core/src/model.rs is `model`, core/src/engine/brake.rs `engine::brake`,
# core/src/engine/mod.rs `engine`. Comments are ignored; `super::X::…` is resolved against
# the file's parent module. Needs only bash, awk, sed and tsort (coreutils).
set -euo pipefail
cd "$(dirname "$0")/.."

fail=0

# 1. No ractor.
if grep -nE '^[[:space:]]*ractor[a-z_-]*[[:space:]]*[.=]|"ractor[a-z_-]*"|^\[[^]]*\bractor' core/Cargo.toml; then
  echo "check-floors: core/Cargo.toml names ractor: hrsync-core must not depend on it" >&2
  fail=1
fi
if grep -rnE '^[^/]*\bractor::' core/src; then
  echo "check-floors: core/src uses ractor (above): hrsync-core must not" >&2
  fail=1
fi

# Each module and the modules it imports, one `from to` pair a line.
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT
find core/src -name '*.rs' | sort | while read -r file; do
  module=${file#core/src/}
  module=${module%.rs}
  module=${module%/mod}
  [ "$module" = lib ] && continue
  module=${module//\//::}
  sed -e 's://.*$::' "$file" | awk -v from="$module" '
    {
      line = $0
      # `crate::{a, b::C}` → `crate::a crate::b::C`
      while (match(line, /crate::\{[^}]*\}/)) {
        inner = substr(line, RSTART + 8, RLENGTH - 9)
        gsub(/[ \t]/, "", inner)
        n = split(inner, parts, ",")
        expanded = ""
        for (i = 1; i <= n; i++) if (parts[i] != "") expanded = expanded " crate::" parts[i]
        line = substr(line, 1, RSTART - 1) expanded substr(line, RSTART + RLENGTH)
      }
      while (match(line, /(crate|super)(::[a-z_][a-z0-9_]*)+/)) {
        path = substr(line, RSTART, RLENGTH)
        line = substr(line, RSTART + RLENGTH)
        if (path ~ /^super::/) {
          parent = from
          if (!sub(/::[^:]*$/, "", parent)) continue   # a top-level file: super is the crate root (tests use super::*)
          sub(/^super/, "crate::" parent, path)
        }
        sub(/^crate::/, "", path)
        print from, path
      }
    }'
done > "$edges"

known=$(find core/src -name '*.rs' | sed -e 's:^core/src/::' -e 's:\.rs$::' -e 's:/mod$::' -e 's:/:\:\::g' | grep -vx lib)

# Resolve each imported path to the longest known module that prefixes it; drop self-imports.
resolved=$(awk -v known="$known" '
  BEGIN { n = split(known, k, "\n"); for (i = 1; i <= n; i++) mod[k[i]] = 1 }
  {
    path = $2
    while (!(path in mod) && sub(/::[^:]*$/, "", path)) {}
    if ((path in mod) && path != $1) print $1, path
  }' "$edges" | sort -u)

# 2. Floors: import only downwards.
floor_errors=$(printf '%s\n' "$resolved" | awk '
  NR == FNR {
    if ($0 ~ /^[ \t]*(#|$)/) next
    level++
    for (i = 2; i <= NF; i++) floor[$i] = level
    name[level] = $1; sub(/:$/, "", name[level])
    next
  }
  $0 == "" { next }
  {
    split($1, a, "::"); split($2, b, "::")
    if (!(a[1] in floor)) { printf "check-floors: module %s is on no floor of core/FLOORS\n", $1; next }
    if (!(b[1] in floor)) { printf "check-floors: module %s (imported by %s) is on no floor of core/FLOORS\n", $2, $1; next }
    if (floor[b[1]] > floor[a[1]])
      printf "check-floors: %s (floor %s) imports %s (floor %s, higher)\n", $1, name[floor[a[1]]], $2, name[floor[b[1]]]
  }' core/FLOORS -)
if [ -n "$floor_errors" ]; then
  echo "$floor_errors" >&2
  fail=1
fi

# 3. No import circle (tsort names the modules of each loop it finds).
if ! loops=$(printf '%s\n' "$resolved" | sed '/^$/d' | tsort 2>&1 >/dev/null) || [ -n "$loops" ]; then
  echo "check-floors: modules of core import each other in a circle:" >&2
  echo "$loops" >&2
  fail=1
fi

if [ "$fail" = 0 ]; then
  echo "check-floors: ok ($(printf '%s\n' "$resolved" | sed '/^$/d' | wc -l) imports between $(printf '%s\n' "$known" | wc -l) modules of core; no ractor, none upwards, no circle)"
fi
exit "$fail"
