#!/usr/bin/env bash
# Fails when a file includes a header from a layer above its own (docs/architecture.md).
# Layers: 0 lib/util, 1 storage, 2 lib/archive, 3 backupd/engine + restore, 4 backupd/ctl + backupd/main.c
set -u
cd "$(dirname "$0")/.."
layer_of_dir() {
  case "$1" in
    lib/util*) echo 0 ;; storage*) echo 1 ;; lib/archive*) echo 2 ;;
    backupd/engine*|restore*) echo 3 ;; backupd*) echo 4 ;; *) echo 9 ;;
  esac
}
declare -A header_layer
while IFS= read -r h; do header_layer[$(basename "$h")]=$(layer_of_dir "$h"); done \
  < <(find lib storage backupd restore -name '*.h')
bad=0
while IFS= read -r f; do
  mine=$(layer_of_dir "$f")
  while IFS= read -r inc; do
    l=${header_layer[$inc]:-}
    [ -z "$l" ] && continue
    if [ "$l" -gt "$mine" ]; then echo "layer violation: $f (layer $mine) includes $inc (layer $l)"; bad=1; fi
  done < <(grep -oE '^#include "[^"]+"' "$f" | sed -E 's/#include "(.*)"/\1/' | xargs -rn1 basename)
done < <(find lib storage backupd restore -name '*.[ch]')
[ $bad -eq 0 ] && echo "layers: ok"
exit $bad
