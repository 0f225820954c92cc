"""Protocol scenarios run through every conch shell (see model.py and drivers.py)."""
