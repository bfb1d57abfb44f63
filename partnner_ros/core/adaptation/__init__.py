"""Picking the split online: frame records, estimators, policies and cloud health. Imports no torch."""
