"""A schema-only Terraform provider, for validating configurations offline.

It speaks Terraform's plugin protocol (go-plugin handshake, tfplugin6 over gRPC) and serves a
provider schema read from a JSON file in the shape `terraform providers schema -json` prints.
Terraform core then checks argument names, types, nesting, required arguments and references
against that schema, exactly as it would with the real provider. The provider itself accepts
every configuration, plans new resources as their configuration with computed attributes
unknown, and reads a few data sources from fixed offline values (see `values.py`). It never
calls AWS and cannot apply anything.

    python -m tfschema_provider --schema FILE [--schema FILE ...]

`install.py` builds a filesystem mirror and a Terraform CLI configuration that serve it as
hashicorp/aws, hashicorp/external, hashicorp/local and hashicorp/null. `validate.py` is the
command that uses it, `pipeline-validate` once the package is installed (the `validate` extra
brings its dependencies).
"""
