"""``aigclabel keys``: development signing credentials for C2PA."""

from __future__ import annotations

import click

from ._common import dump_json, guarded, json_option

EPILOG = """\b
Examples:
  aigclabel keys init devkeys/
  aigclabel mark gen.jpg -o out.jpg --producer CODE --c2pa \\
      --sign-cert devkeys/signer-chain.pem --sign-key devkeys/signer-key.pem
  aigclabel verify out.jpg --profile c2pa --trust-anchors devkeys/ca.pem

\b
These are development credentials: manifests signed with them are Trusted only where
ca.pem is a trust anchor. Production signing needs a certificate from a CA on the C2PA trust list.
"""


@click.group("keys", epilog=EPILOG)
def keys_cmd() -> None:
    """Signing credentials for C2PA Content Credentials."""


@keys_cmd.command("init", epilog=EPILOG)
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--organization", metavar="NAME", default="aigclabel development (not for production)",
              show_default=True, help="Organisation (O) in the certificates; validators show it as the signer.")
@click.option("--common-name", metavar="NAME", default="aigclabel development signer", show_default=True,
              help="Common name (CN) of the signing certificate.")
@click.option("--days", type=click.IntRange(1, 3650), default=365, show_default=True,
              help="Validity of the signing certificate.")
@json_option
@guarded
def init_cmd(directory: str, organization: str, common_name: str, days: int, as_json: bool) -> None:
    """Create a development CA and a C2PA signing certificate chain in DIR (never overwrites).

    Writes DIR/ca.pem (the trust anchor), DIR/signer-chain.pem (signer + intermediate) and
    DIR/signer-key.pem (private key, mode 0600): ECDSA P-256 / ES256, key usage digitalSignature,
    extended key usage emailProtection and documentSigning, as C2PA validators require.
    """
    from aigclabel.keys import init_keys

    keys = init_keys(directory, organization=organization, common_name=common_name, days=days)
    if as_json:
        dump_json(keys.to_dict())
        return
    click.echo(f"wrote {keys.ca} (trust anchor), {keys.chain} (signing chain), {keys.key} (private key)")
    click.echo(f"  signer: {keys.signer_subject}, valid until {keys.not_after}")
    click.echo("  development only: production signing needs a certificate from a CA on the C2PA trust list")
