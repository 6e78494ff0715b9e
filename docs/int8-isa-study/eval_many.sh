#!/bin/bash
# usage: eval_many.sh LOG CACHE REPEAT VARIANT...   (one fresh process per variant; env passed through)
S=/tmp/int8study-scripts; source $S/common.sh
log=$1; cache=$2; rep=$3; shift 3
for v in "$@"; do
  COMPBENCH_CACHE=$cache run $S/evaluate.py $cache $v $rep 2>&1 | grep -E "^ACC|^artifact|^torch|Error|error" >> $log
done
echo DONE >> $log
