"""``python -m nestpy.cli`` runs the same command line as the ``nestpy`` script."""

from nestpy.cli.main import main

if __name__ == "__main__":
    main()
