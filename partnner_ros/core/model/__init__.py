"""The split-model library: models as layer graphs, their costs, fingerprints and profiles."""
