"""Storage: git directories, objects, trees and refs. Knows nothing of runs."""
