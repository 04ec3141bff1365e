# Run jsii (and the cdktf CLI) on the Node.js 22 that package.json installs.
#
#   source scripts/node_env.sh      # then: .venv/bin/python main.py, pytest, ...
#
# The system Node 20 is end-of-life for jsii, which prints a large warning banner on every
# start; Node 22 is a release jsii supports, and it starts the jsii kernel ~0.25 s faster.
# The Makefile exports the same variable. If node_modules/.bin/node is missing or does not run
# (no `make install` yet), nothing is changed and jsii uses the `node` on PATH.
# (Do not export NODE_COMPILE_CACHE for jsii: it extracts packages into a new temporary folder
# per process and node keys the cache by path, so the cache grows by megabytes per run.)

_pipeline_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_pipeline_node="$_pipeline_root/node_modules/.bin/node"
if [ -x "$_pipeline_node" ] && "$_pipeline_node" --version >/dev/null 2>&1; then
    export JSII_NODE="$_pipeline_node"
fi
unset _pipeline_root _pipeline_node
