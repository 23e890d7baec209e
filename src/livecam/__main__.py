from livecam.cli import main

main()
