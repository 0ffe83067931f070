#!/bin/bash
# Healthy = the volume is Started and its brick is online (RECIPES-gluster.md §10).
set -euo pipefail
VOLUME=${GLUSTER_VOLUME:-demo}
gluster --mode=script volume info "$VOLUME" 2>/dev/null | grep -q '^Status: Started' || { echo "volume $VOLUME not started"; exit 1; }
gluster --mode=script volume status "$VOLUME" detail 2>/dev/null | grep -q '^Online *: Y' || { echo "brick of $VOLUME not online"; exit 1; }
echo "volume $VOLUME started, brick online"
