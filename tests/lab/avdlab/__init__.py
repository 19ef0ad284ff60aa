"""avdlab: simulated Azure Virtual Desktop session hosts that are real WinRM endpoints."""

__version__ = "0.1.0"
