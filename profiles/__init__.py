"""Shipped labelling profiles (TOML files). This module only marks the folder as package data."""
