from fixgw.cli import COMMANDS, build_parser


def test_every_command_is_listed_in_help():
    text = build_parser().format_help()
    for name in COMMANDS:
        assert name in text
