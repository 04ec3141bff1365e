"""Two event pipelines and an extra subscriber in one stack, built by an app of your own.

Run it from your app's folder (``python app.py``): the extra subscriber's code is the folder
``handlers/audit`` there (a folder holding app.py), relative to the working directory. The
output goes to ``cdktf.out`` (or the folder given as the first argument); the function zips are
built in ``.build`` beside it.
"""

import sys

from constructs_lib import App, EventPipeline, TerraformStack, aws_provider, build_config

app = App(outdir=sys.argv[1] if len(sys.argv) > 1 else "cdktf.out")
stack = TerraformStack(app, "shop")
aws_provider(stack, "eu-west-1")  # the provider, with the constraints the pinned modules need

# Each pipeline's logical ids are prefixed with its id (orders_table, billing_table, ...);
# name_suffix keeps their AWS names apart.
orders = EventPipeline(stack, "orders", config=build_config(region="eu-west-1", name_suffix="-orders"))
billing = EventPipeline(stack, "billing", config=build_config(region="eu-west-1", name_suffix="-billing"))

# Added after construction: queue + DLQ, subscription, key grant, alarms, dashboard widgets,
# and the orders stream trigger waits for the new subscription.
orders.add_subscriber({"name": "audit", "code": "handlers/audit", "filter_policy": {"kind": ["order"]}})

app.synth()
