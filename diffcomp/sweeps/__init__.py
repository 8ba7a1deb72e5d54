"""Sweeps: every job planned and validated before any is launched, and the records they leave summarised."""
