"""The pipeline's model without cdktf: configuration, names, ordering rules, the message
contract and function packaging.

``constructs_lib`` builds Terraform from it; ``local_pipeline``, ``tools``, ``scripts`` and
``bench`` use it alone. Nothing here imports cdktf, jsii or a construct module.
"""
