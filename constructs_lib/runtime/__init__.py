"""What loads the CDK and the prebuilt AWS provider; nothing here defines a construct.

* ``flavour``: which CDK this process uses, cdktf or CDK Terrain (cdktn), from
  ``PIPELINE_CDK`` or from what is installed. Imports neither.
* ``provider``: the fast loading of the prebuilt AWS provider package (Python submodules
  only, and a jsii tarball with a lazy ``lib/index.js``), for either flavour.

The constructs see the result through ``constructs_lib.cdk`` (the core classes) and
``constructs_lib.aws`` (the provider classes).
"""
