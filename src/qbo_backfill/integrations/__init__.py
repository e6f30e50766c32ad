"""Glue for the tools that run the library: Mage AI."""
