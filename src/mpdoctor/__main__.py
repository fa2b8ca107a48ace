from mpdoctor.cli import run

run()
