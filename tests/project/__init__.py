"""The repository as a whole: packaging, distribution files, the README and docs/ and their figures, the layout,
the pinned workarounds for library gaps."""
