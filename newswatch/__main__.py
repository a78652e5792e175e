from newswatch.cli import main

main()
