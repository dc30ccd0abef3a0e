"""An example third-party adapter, installed through the ``billfold.adapters`` entry point."""
