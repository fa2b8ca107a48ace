"""A lambda sent to a Pool: it cannot be pickled, whatever the start method."""
import multiprocessing


def main():
    with multiprocessing.Pool(2) as pool:
        print(pool.map(lambda x: x * x, range(10)))


if __name__ == "__main__":
    main()
