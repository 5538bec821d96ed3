from autotl.cli import main

main()
