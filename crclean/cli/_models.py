"""``crclean models``: list the models ``--model`` takes."""

import click

from crclean.exceptions import ModelError
from crclean.weights import AUTO_MODEL, AUTO_MODELS, MODELS, weights_path

__all__ = ["models_command"]


@click.command("models")
def models_command():
    """List the cosmic-ray models, what they are for, and their weight files."""
    click.echo(f"{AUTO_MODEL}  (default)")
    click.echo("  for:      any data: chooses per file from TELESCOP/INSTRUME/DETECTOR/OBSERVAT, with a note")
    # The full list is crclean.io._instrument's; importing it here would load astropy.
    click.echo(f"  space:    {AUTO_MODELS['space']}  (HST, JWST, Euclid and the other space telescopes "
               "in docs/usage.md)")
    click.echo(f"  ground:   {AUTO_MODELS['ground']}  (any other telescope, or none named)")
    for spec in MODELS.values():
        chosen = [kind for kind, name in AUTO_MODELS.items() if name == spec.name]
        by_auto = f"  (auto's {' and '.join(chosen)} model)" if chosen else ""
        click.echo(f"{spec.name}{by_auto}")
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
