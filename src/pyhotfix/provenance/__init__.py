"""Provenance of built files and the audit of an index against the lock.

`layout` (where a statement lives and how pages link it), `statement` (the in-toto Statement with
a SLSA Provenance v1 predicate, from a lock entry), `signing` (optional Sigstore identity check),
`audit` (index files vs the lock and their statements, `--rebuild`). Import the modules
themselves: this package imports nothing, so page rendering can use `layout` cheaply.
"""
