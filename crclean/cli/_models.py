"""``crclean models``: list the models ``--model`` takes."""

import click

from crclean.exceptions import ModelError
from crclean.weights import DEFAULT_MODEL, MODELS, weights_path

__all__ = ["models_command"]


@click.command("models")
def models_command():
    """List the cosmic-ray models, what they are for, and their weight files."""
    for spec in MODELS.values():
        default = "  (default)" if spec.name == DEFAULT_MODEL else ""
        click.echo(f"{spec.name}{default}")
        click.echo(f"  for:      {spec.instruments}")
        if spec.kind == "network":
            units = "any (normalised by the sky noise)" if spec.normalisation == "background" else spec.units
            click.echo(f"  units:    {units}")
            click.echo(f"  tiles:    {spec.tile_size} px, overlapping by {spec.overlap} px, by default")
            try:
                location = str(weights_path(spec))
            except ModelError as error:
                location = f"NOT INSTALLED: {error}"
            click.echo(f"  weights:  {location}")
            click.echo(f"  sha256:   {spec.sha256}")
        else:
            click.echo(f"  units:    {spec.units}")
        click.echo(f"  source:   {spec.reference}")
