"""AWS Bedrock: the Converse / ConverseStream wire format, SigV4 or bearer authentication."""
