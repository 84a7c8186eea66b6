"""The nps-sync engine: stages, state store, scheduler and command line."""
