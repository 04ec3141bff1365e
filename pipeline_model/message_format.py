"""What the producer publishes, as the configuration's routing check and the stack need to know it.

``functions/shared/pipeline_message.py`` builds the messages (it is shipped in the function zips and imports
nothing of this package); tests/handlers/test_handler_contract.py keeps the two equal. The configuration reads
this module (not :mod:`pipeline_model.contract`, which reads the configuration); the contract re-exports it.
"""

from __future__ import annotations


#: The SNS message attributes on every message (DataType String).
MESSAGE_ATTRIBUTES = ("eventName", "tableName")
#: SNS delivers at most 10 message attributes to an SQS subscription with raw message delivery (more: the
#: message is discarded), so at most 10 - len(MESSAGE_ATTRIBUTES) item fields are lifted into attributes.
MAX_LIFTED_ATTRIBUTES = 10 - len(MESSAGE_ATTRIBUTES)
#: The producer's environment variable naming the item fields it lifts into message attributes (comma-separated).
MESSAGE_ATTRIBUTES_ENV = "MESSAGE_ATTRIBUTES"
#: The top-level keys of the message body ("userIdentity" and "truncatedReason" only on some messages).
MESSAGE_BODY_KEYS = (
    "version", "eventID", "eventName", "tableName", "eventSourceARN", "awsRegion", "sequenceNumber",
    "approximateCreationDateTime", "sizeBytes", "streamViewType", "keys", "newImage", "oldImage", "userIdentity",
    "truncated", "truncatedReason",
)
#: Body keys holding item attributes (any name; a filter policy may go into them).
MESSAGE_BODY_IMAGES = ("keys", "newImage", "oldImage")
#: Body keys holding an object of known keys.
MESSAGE_BODY_OBJECTS = {"userIdentity": ("type", "principalId")}
