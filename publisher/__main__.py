"""``python -m publisher`` runs the command line."""

from publisher.cli import main

# The program's name is ``publisher`` however it is started, so shell completion
# (``_PUBLISHER_COMPLETE``) and usage lines are the same for ``python -m publisher``.
main(prog_name="publisher")
