"""Stand-ins the tests run against: Azurite, the Azure Batch emulator and its request-body checker, Batch node
layouts, STAC/COG fixtures, and the shared Batch plans and runners (``batch_plans``). Test modules import from here,
never from one another."""
