"""Show: stored records to rows (views.py), rows to a terminal, a pipe or JSON (render.py)."""
