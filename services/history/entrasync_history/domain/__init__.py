"""History's pure rules: the inventory model, plans, events, positions, paging, search, CSV."""
