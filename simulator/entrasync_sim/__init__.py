"""A local Microsoft Entra ID + Graph simulator for entrasync's tests and demos."""
