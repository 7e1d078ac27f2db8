"""PyTorch's order for tied keys in an unstable CPU sort, for the few places where TorchVision's result
order depends on it (``batched_nms`` over many boxes sorts its kept scores with ``sort(descending=True)``).

The CPU kernel hands (value, index) pairs to ``std::sort``; with ties the result depends on that
algorithm's exact steps, which this module replays in Python. It only runs when keys tie (otherwise any
correct sort gives the same order), on the host.
"""
import math


def unstable_descending_order(keys):
    """Indices ordering ``keys`` (a list of floats) as PyTorch's CPU ``sort(descending=True)`` does
    (libstdc++'s ``std::sort`` on (key, index) pairs: introsort with median-of-three pivots, heapsort past
    the depth limit, then insertion sort over 16-element runs)."""
    a = [(k, i) for i, k in enumerate(keys)]
    n = len(a)

    def comp(x, y):
        return x[0] > y[0]

    def move_median_to_first(result, p, q, r):
        if comp(a[p], a[q]):
            if comp(a[q], a[r]):
                a[result], a[q] = a[q], a[result]
            elif comp(a[p], a[r]):
                a[result], a[r] = a[r], a[result]
            else:
                a[result], a[p] = a[p], a[result]
        elif comp(a[p], a[r]):
            a[result], a[p] = a[p], a[result]
        elif comp(a[q], a[r]):
            a[result], a[r] = a[r], a[result]
        else:
            a[result], a[q] = a[q], a[result]

    def unguarded_partition(first, last, pivot):
        while True:
            while comp(a[first], a[pivot]):
                first += 1
            last -= 1
            while comp(a[pivot], a[last]):
                last -= 1
            if not first < last:
                return first
            a[first], a[last] = a[last], a[first]
            first += 1

    def heap_select_sort(first, middle, last):
        # Depth limit reached: heapsort [first, last) (make_heap, then sort_heap) with the same comparator.
        seg = a[first:last]

        def adjust(hole, length, value, base):
            top = hole
            second = hole
            while second < (length - 1) // 2:
                second = 2 * (second + 1)
                if comp(base[second], base[second - 1]):
                    second -= 1
                base[hole] = base[second]
                hole = second
            if (length & 1) == 0 and second == (length - 2) // 2:
                second = 2 * (second + 1)
                base[hole] = base[second - 1]
                hole = second - 1
            parent = (hole - 1) // 2
            while hole > top and comp(base[parent], value):
                base[hole] = base[parent]
                hole = parent
                parent = (hole - 1) // 2
            base[hole] = value
        length = len(seg)
        if length >= 2:
            parent = (length - 2) // 2
            while True:
                adjust(parent, length, seg[parent], seg)
                if parent == 0:
                    break
                parent -= 1
        end = length
        while end > 1:
            end -= 1
            value = seg[end]
            seg[end] = seg[0]
            adjust(0, end, value, seg)
        a[first:last] = seg

    def introsort_loop(first, last, depth):
        while last - first > 16:
            if depth == 0:
                heap_select_sort(first, last, last)
                return
            depth -= 1
            mid = first + (last - first) // 2
            move_median_to_first(first, first + 1, mid, last - 1)
            cut = unguarded_partition(first + 1, last, first)
            introsort_loop(cut, last, depth)
            last = cut

    def insertion_sort(first, last):
        if first == last:
            return
        for i in range(first + 1, last):
            val = a[i]
            if comp(val, a[first]):
                a[first + 1:i + 1] = a[first:i]
                a[first] = val
            else:
                j = i
                while comp(val, a[j - 1]):
                    a[j] = a[j - 1]
                    j -= 1
                a[j] = val

    def unguarded_insertion_sort(first, last):
        for i in range(first, last):
            val = a[i]
            j = i
            while comp(val, a[j - 1]):
                a[j] = a[j - 1]
                j -= 1
            a[j] = val

    if n > 1:
        introsort_loop(0, n, 2 * int(math.log2(n)))
        if n > 16:
            insertion_sort(0, 16)
            unguarded_insertion_sort(16, n)
        else:
            insertion_sort(0, n)
    return [i for _, i in a]
