from pyhotfix.cli import main

main()
