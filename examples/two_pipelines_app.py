"""Two event pipelines and an extra subscriber in one stack, built by an app of your own.

Run it as ``python app.py`` from any folder: the extra subscriber's code is the folder
``handlers/audit`` beside this file (a relative code path is resolved against the folder of the
app's entry file). The output goes to ``cdktf.out`` (or the folder given as the first argument);
the function zips are built in ``.build`` beside it.
"""

import sys

from constructs_lib import App, EventPipeline, EventPipelineProps, ProducerConfig, TerraformStack, aws_provider, build_config

REGION = "eu-west-1"
# The orders producer also sends each item's "kind" field as a message attribute (an S field: a String
# attribute), so a subscription can filter on it; a filter on an attribute the producer does not send is
# refused at synth (docs/fanout.md, "Routing on item fields").
ORDERS = EventPipelineProps(name_suffix="-orders", producer=ProducerConfig(message_attributes=["kind"]))
# The same from a configuration (a TOML file's contents), as main.py builds its stacks.
BILLING = {"region": REGION, "name_suffix": "-billing"}
# The audit queue receives the orders table's changes of items whose kind is "order".
AUDIT = {"name": "audit", "code": "handlers/audit", "filter_policy": {"kind": ["order"]}}


def main(outdir: str) -> None:
    app = App(outdir=outdir)
    stack = TerraformStack(app, "shop")
    aws_provider(stack, REGION)  # the provider, with the constraints the pinned modules need

    # Each pipeline's logical ids are prefixed with its id (orders_table, billing_table, ...);
    # name_suffix keeps their AWS names apart.
    orders = EventPipeline(stack, "orders", props=ORDERS)
    EventPipeline.from_config(stack, "billing", build_config(BILLING))

    # Added after construction: queue + DLQ, subscription, key grant, alarms, dashboard widgets,
    # and the orders stream trigger waits for the new subscription.
    orders.add_subscriber(AUDIT)

    app.synth()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cdktf.out")
