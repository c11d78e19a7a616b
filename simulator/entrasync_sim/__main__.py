"""`python -m entrasync_sim serve ...`."""

from entrasync_sim.cli import main

if __name__ == "__main__":
    main()
