"""Helpers more than one of the drill's packages use (steps, investigator, rehearsal): each imports them
from here, never from one another. Nothing here imports another drill package."""
