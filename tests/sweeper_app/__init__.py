"""A tiny Hydra app that uses diffcomp's sweeper, with a validator of its own, for the sweeper's tests."""
