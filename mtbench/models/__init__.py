"""The MTNet family (Stergiou and Poppe, Multi-Temporal Networks)."""
