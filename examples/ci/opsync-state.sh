#!/usr/bin/env bash
# Keep opsync's state file on a dedicated branch of this repository (default: opsync-state), one commit per
# apply. The state holds item ids, versions and keyed digests, never secret values.
#
#   opsync-state.sh pull   fetch state.json from the branch into .opsync/state.json (none yet: start empty)
#   opsync-state.sh push   commit .opsync/state.json to the branch (a fast-forward; fails if it moved)
#
# Uses the credentials actions/checkout leaves in the repository; `push` needs `contents: write`.
set -euo pipefail

branch="${OPSYNC_STATE_BRANCH:-opsync-state}"
state="${OPSYNC_STATE_FILE:-.opsync/state.json}"

fetch_branch() {
  git fetch --quiet --no-tags --depth=1 origin "+refs/heads/${branch}:refs/remotes/origin/${branch}" 2>/dev/null
}

case "${1:-}" in
  pull)
    mkdir -p "$(dirname "$state")"
    if fetch_branch; then
      git show "refs/remotes/origin/${branch}:state.json" > "$state"
      chmod 600 "$state"
      echo "opsync state: serial $(node -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).serial" "$state") from branch ${branch}"
    else
      echo "opsync state: no branch ${branch} yet; starting without state (the first apply creates it)"
    fi
    ;;
  push)
    if [ ! -f "$state" ]; then
      echo "opsync state: no ${state}; nothing to save"
      exit 0
    fi
    parent=""
    if fetch_branch; then parent="$(git rev-parse "refs/remotes/origin/${branch}")"; fi
    blob="$(git hash-object -w "$state")"
    tree="$(printf '100644 blob %s\tstate.json\n' "$blob" | git mktree)"
    if [ -n "$parent" ] && [ "$(git rev-parse "${parent}^{tree}")" = "$tree" ]; then
      echo "opsync state: unchanged"
      exit 0
    fi
    export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-github-actions[bot]}"
    export GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-41898282+github-actions[bot]@users.noreply.github.com}"
    export GIT_COMMITTER_NAME="$GIT_AUTHOR_NAME" GIT_COMMITTER_EMAIL="$GIT_AUTHOR_EMAIL"
    message="opsync state after ${GITHUB_WORKFLOW:-apply} run ${GITHUB_RUN_ID:-local} of ${GITHUB_SHA:-$(git rev-parse HEAD 2>/dev/null || echo "an unknown commit")}"
    commit="$(git commit-tree "$tree" ${parent:+-p "$parent"} -m "$message")"
    git push --quiet origin "${commit}:refs/heads/${branch}"
    echo "opsync state: saved serial $(node -p "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')).serial" "$state") to branch ${branch} (${commit})"
    ;;
  *)
    echo "usage: $0 pull|push" >&2
    exit 2
    ;;
esac
