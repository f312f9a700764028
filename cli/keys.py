"""``aigclabel keys``: development signing credentials for C2PA, and SM2 keys for TC260 SecurityData."""

from __future__ import annotations

import click

from ._common import dump_json, guarded, json_option

EPILOG = """\b
Examples:
  aigclabel keys init devkeys/
  aigclabel mark gen.jpg -o out.jpg --producer CODE --c2pa \\
      --sign-cert devkeys/signer-chain.pem --sign-key devkeys/signer-key.pem
  aigclabel verify out.jpg --profile c2pa --trust-anchors devkeys/ca.pem
  aigclabel keys init --sm2 --producer CODE sm2keys/
  aigclabel keys init --ecdsa-p256 --producer CODE eckeys/

\b
These are development credentials: manifests signed with them are Trusted only where
ca.pem is a trust anchor. Production signing needs a certificate from a CA on the C2PA trust list.
--sm2 writes an SM2 key pair for SecurityData signatures in ReservedCode1/2 (needs aigclabel[sign]);
--rsa (RSA-3072, RSA/SHA-256) and --ecdsa-p256 (ECDSA P-256/SHA-256) write the other key kinds the
guide allows. Give DIR/trusted-keys.toml to the platforms that verify your labels.
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
@click.option("--sm2", is_flag=True,
              help="Write an SM2 key pair for TC260 SecurityData (ReservedCode1/2) instead of C2PA credentials.")
@click.option("--rsa", is_flag=True,
              help="Write an RSA-3072 key pair for SecurityData signed with RSA/SHA-256 (1.2.840.113549.1.1.11).")
@click.option("--ecdsa-p256", "ecdsa", is_flag=True,
              help="Write an ECDSA P-256 key pair for SecurityData signed with ECDSA/SHA-256 (1.2.840.10045.4.3.2).")
@click.option("--producer", metavar="CODE", default="",
              help="With --sm2/--rsa/--ecdsa-p256: the provider code the trusted-keys entry names.")
@json_option
@guarded
def init_cmd(directory: str, organization: str, common_name: str, days: int, sm2: bool, rsa: bool, ecdsa: bool,
             producer: str, as_json: bool) -> None:
    """Create a development CA and a C2PA signing certificate chain in DIR (never overwrites).

    Writes DIR/ca.pem (the trust anchor), DIR/signer-chain.pem (signer + intermediate) and
    DIR/signer-key.pem (private key, mode 0600): ECDSA P-256 / ES256, key usage digitalSignature,
    extended key usage emailProtection and documentSigning, as C2PA validators require.

    With --sm2: DIR/sm2-key.pem (SM2 private key, mode 0600), DIR/sm2-pub.pem and DIR/trusted-keys.toml
    (the public key as a trusted-keys entry, with its KeyID and hex forms). --rsa and --ecdsa-p256 write
    DIR/rsa-key.pem / DIR/ecdsa-p256-key.pem and their public keys the same way.
    """
    from aigclabel.keys import init_keys, init_signing_keys

    chosen = [name for name, on in (("sm2", sm2), ("rsa", rsa), ("ecdsa-p256", ecdsa)) if on]
    if len(chosen) > 1:
        raise click.UsageError("choose one of --sm2, --rsa and --ecdsa-p256")
    if chosen:
        pair = init_signing_keys(directory, chosen[0], producer=producer)
        if as_json:
            dump_json(pair.to_dict())
            return
        kind = {"sm2": "SM2", "rsa": "RSA", "ecdsa-p256": "ECDSA P-256"}[chosen[0]]
        click.echo(f"wrote {pair.key} ({kind} private key), {pair.public} (public key), {pair.trusted} "
                   "(trusted keys)")
        shown = pair.point_hex or pair.spki_hex
        click.echo(f"  KeyID {pair.key_id}, public key {shown[:18]}...")
        return
    if producer:
        raise click.UsageError("--producer applies to --sm2, --rsa and --ecdsa-p256 keys only")

    keys = init_keys(directory, organization=organization, common_name=common_name, days=days)
    if as_json:
        dump_json(keys.to_dict())
        return
    click.echo(f"wrote {keys.ca} (trust anchor), {keys.chain} (signing chain), {keys.key} (private key)")
    click.echo(f"  signer: {keys.signer_subject}, valid until {keys.not_after}")
    click.echo("  development only: production signing needs a certificate from a CA on the C2PA trust list")
