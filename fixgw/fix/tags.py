"""FIX tag numbers and enum values the session layer uses (FIX 4.4)."""
from __future__ import annotations

BEGIN_STRING = 8
BODY_LENGTH = 9
CHECKSUM = 10
MSG_SEQ_NUM = 34
MSG_TYPE = 35
NEW_SEQ_NO = 36
BEGIN_SEQ_NO = 7
END_SEQ_NO = 16
POSS_DUP_FLAG = 43
REF_SEQ_NUM = 45
SENDER_COMP_ID = 49
SENDING_TIME = 52
TARGET_COMP_ID = 56
TEXT = 58
POSS_RESEND = 97
ENCRYPT_METHOD = 98
HEART_BT_INT = 108
TEST_REQ_ID = 112
ON_BEHALF_OF_COMP_ID = 115
ON_BEHALF_OF_SUB_ID = 116
ORIG_SENDING_TIME = 122
GAP_FILL_FLAG = 123
DELIVER_TO_COMP_ID = 128
DELIVER_TO_SUB_ID = 129
RESET_SEQ_NUM_FLAG = 141
ON_BEHALF_OF_LOCATION_ID = 144
DELIVER_TO_LOCATION_ID = 145
REF_TAG_ID = 371
REF_MSG_TYPE = 372
SESSION_REJECT_REASON = 373
BUSINESS_REJECT_REASON = 380
USERNAME = 553
PASSWORD = 554
NEW_PASSWORD = 925
CLORDID = 11

USER_MIN = 5000  # first user-defined tag

# Tags whose values never reach a log file.
SECRET_TAGS = (PASSWORD, NEW_PASSWORD)

# Routing fields copied crosswise into a reply's header (QuickFIX Message::reverseRoute).
REVERSE_ROUTE = (
    (ON_BEHALF_OF_COMP_ID, DELIVER_TO_COMP_ID),
    (ON_BEHALF_OF_SUB_ID, DELIVER_TO_SUB_ID),
    (ON_BEHALF_OF_LOCATION_ID, DELIVER_TO_LOCATION_ID),
    (DELIVER_TO_COMP_ID, ON_BEHALF_OF_COMP_ID),
    (DELIVER_TO_SUB_ID, ON_BEHALF_OF_SUB_ID),
    (DELIVER_TO_LOCATION_ID, ON_BEHALF_OF_LOCATION_ID),
)


class MsgType:
    HEARTBEAT = "0"
    TEST_REQUEST = "1"
    RESEND_REQUEST = "2"
    REJECT = "3"
    SEQUENCE_RESET = "4"
    LOGOUT = "5"
    LOGON = "A"
    BUSINESS_MESSAGE_REJECT = "j"


ADMIN_MSG_TYPES = frozenset("012345A")


class SessionRejectReason:
    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    UNDEFINED_TAG = 3
    TAG_SPECIFIED_WITHOUT_A_VALUE = 4
    VALUE_IS_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    DECRYPTION_PROBLEM = 7
    SIGNATURE_PROBLEM = 8
    COMPID_PROBLEM = 9
    SENDING_TIME_ACCURACY_PROBLEM = 10
    INVALID_MSGTYPE = 11
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    REPEATING_GROUP_FIELDS_OUT_OF_ORDER = 15
    INCORRECT_NUMINGROUP_COUNT = 16
    NON_DATA_VALUE_INCLUDES_FIELD_DELIMITER = 17
    OTHER = 99


# The Text(58) QuickFIX writes for each SessionRejectReason (compared literally by the suite).
REJECT_TEXT = {
    0: "Invalid tag number",
    1: "Required tag missing",
    2: "Tag not defined for this message type",
    3: "Undefined Tag",
    4: "Tag specified without a value",
    5: "Value is incorrect (out of range) for this tag",
    6: "Incorrect data format for value",
    7: "Decryption problem",
    8: "Signature problem",
    9: "CompID problem",
    10: "SendingTime accuracy problem",
    11: "Invalid MsgType",
    13: "Tag appears more than once",
    14: "Tag specified out of required order",
    15: "Repeating group fields out of order",
    16: "Incorrect NumInGroup count for repeating group",
    17: "Non Data value includes field delimiter (SOH character)",
    99: "Other",
}
