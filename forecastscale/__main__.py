from forecastscale.cli import main

main()
