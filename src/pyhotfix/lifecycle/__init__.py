"""The hotfix lifecycle: make patches (`edit`/`commit`), watch upstream (`status`), carry a hotfix
to a new release (`rebase`) and drop it when upstream has the fix (`retire`).

- `series`: the patch series as git history and its replay onto another release (the verdicts).
- `workspace`: `edit` / `commit`.
- `status`: newer releases, verdicts per patch, the recommendation; HTTP and verdict caching.
- `rebase`: carry the series onto a release; stop in a workspace on conflicts.
- `retire`: remove from manifest and lock, move patch files, yank, requirement advice.
"""
